// The front-end packages the pages import by URL from /vendor/<name>@<version>/ (see
// interactive_gym/server/static_files.py): their types come from the same pinned packages in
// node_modules, so `tsc -p tsconfig.json` checks our calls into them.

declare module "*/dist/pixi.min.mjs" {
  export * from "pixi.js";
}

declare module "*/dist/socket.io.esm.min.js" {
  export * from "socket.io-client";
}
