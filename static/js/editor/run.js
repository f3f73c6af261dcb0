/* Run detail: the run's flow version, read only, with the path it took lit up. */
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', () => {
    const OF = window.OF;
    const cfg = JSON.parse(document.getElementById('run-config').textContent);
    OF.lang = cfg.lang;
    OF.config = { canEdit: false };
    const fg = new OF.FlowGraph(document.getElementById('run-graph'), null, { nodeTypes: cfg.nodeTypes, readOnly: true });
    fg.load(cfg.doc);
    fg.showPath(cfg.steps);
    fg.fit();
  });
})();
