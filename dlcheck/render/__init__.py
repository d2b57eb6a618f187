"""Renderers read Report / CheckResult objects and never change them: console (rich), JSON,
JUnit XML, Markdown, and plots. Each is a module of its own; none imports another."""
