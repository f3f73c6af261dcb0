"""Form pieces shared by the pages: fields the administration and template pages both use."""

from __future__ import annotations

from wtforms import SelectMultipleField, widgets


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()
