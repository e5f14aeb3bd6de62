"""Operators: register portals with their declared purposes (more roles and pages follow)."""
