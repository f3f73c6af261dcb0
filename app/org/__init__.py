"""The organisation: departments, business roles, people and their managers."""
