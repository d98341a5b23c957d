"""Pure-Python example environments (standard library only, so they run in Pyodide)."""
