"""Rendering, pure: plans, apply reports and drift reports as text for a terminal (with or
without colour), as Markdown for pull requests and issues; apply's progress line."""
