"""Example environments and policies that run offline in Pyodide."""
