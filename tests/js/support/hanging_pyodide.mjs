// @ts-check
// A Pyodide module whose loadPyodide never settles, as when .wasm has the wrong MIME type.
export function loadPyodide() {
  return new Promise(() => {});
}
