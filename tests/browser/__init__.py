# A package, so that its fixtures can be package-scoped: JupyterLab, Voilà and Chromium stop when the
# browser tests end, before the rest of the suite runs.
