// @ts-check
/**
 * The Python runtime package (`interactive_gym/runtime/`) in a Pyodide's file system.
 *
 * The server serves the package's files at `/runtime/<file>` (`server/runtime_files.py`, the
 * other half); this module fetches them and writes them under `/home/pyodide/` as the package
 * `interactive_gym.runtime` (with an empty `interactive_gym/__init__.py`), so Python imports
 * them as in CPython. Used by the worker (`pyodide_worker.js`) and the runtime profile bench.
 */

/** Where the package goes: `/home/pyodide` is Pyodide's working directory, on `sys.path`. */
export const TOP_DIR = "/home/pyodide/interactive_gym";
export const PACKAGE_DIR = `${TOP_DIR}/runtime`;

/**
 * @typedef {{
 *   runtimeBaseURL?: string,
 *   runtimeFiles?: string[],
 *   runtimeSources?: Record<string, string>,
 * }} RuntimeSource
 *   `runtimeSources` ({file name: Python source}) replaces fetching (tests without a server).
 */

/**
 * The package's files by name: `runtimeSources` as given, or each of `runtimeFiles` fetched
 * from `runtimeBaseURL`.
 * @param {RuntimeSource} config
 * @returns {Promise<Record<string, string>>}
 */
export async function runtimeSources(config) {
  if (config.runtimeSources) return config.runtimeSources;
  const { runtimeBaseURL, runtimeFiles } = config;
  if (!runtimeBaseURL || !Array.isArray(runtimeFiles) || runtimeFiles.length === 0) {
    throw new Error("the runtime configuration has no runtimeBaseURL and runtimeFiles");
  }
  const base = runtimeBaseURL.endsWith("/") ? runtimeBaseURL : `${runtimeBaseURL}/`;
  const texts = await Promise.all(
    runtimeFiles.map(async (file) => {
      const url = `${base}${file}`;
      /** @type {Response} */ let response;
      try {
        response = await fetch(url);
      } catch (error) {
        throw new Error(`could not load the runtime file ${url}: ${/** @type {any} */ (error)?.message ?? error}`);
      }
      if (!response.ok) throw new Error(`could not load the runtime file ${url}: HTTP ${response.status}`);
      return response.text();
    }),
  );
  return Object.fromEntries(runtimeFiles.map((file, i) => [file, texts[i]]));
}

/**
 * Write the runtime package into `pyodide`'s file system (before anything imports it).
 * @param {any} pyodide
 * @param {Record<string, string>} sources  the package's files by name (`runtimeSources`)
 */
export function writeRuntimePackage(pyodide, sources) {
  pyodide.FS.mkdirTree(PACKAGE_DIR);
  pyodide.FS.writeFile(`${TOP_DIR}/__init__.py`, "");
  for (const [file, source] of Object.entries(sources)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*\.py$/.test(file)) throw new Error(`bad runtime file name ${file}`);
    pyodide.FS.writeFile(`${PACKAGE_DIR}/${file}`, source);
  }
  pyodide.runPython("import importlib\nimportlib.invalidate_caches()");
}
