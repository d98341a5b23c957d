// @ts-check
// Sends every message straight back: the floor of a main thread ⇄ worker round trip.
self.onmessage = (event) => self.postMessage(event.data);
