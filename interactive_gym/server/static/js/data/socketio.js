// @ts-check
/**
 * The socket.io client (npm package socket.io-client), served by our own server from
 * node_modules under /vendor. Bump the version here together with package.json.
 * @module data/socketio
 */
export { io, Manager, Socket } from "/vendor/socket.io-client@4.8.4/dist/socket.io.esm.min.js";
