"""The Textual console: the app shell, the command palette, screens and reusable
widgets. It reaches runs, jobs and history through `atria_tui.services` only.
"""
