// @ts-check
// A worker extension for the tests: before an "echo" request, read the env's state from
// Python and add it (and the request type) to the payload.
export async function prepare(request, callPython) {
  if (request.type !== "echo") return request;
  return { ...request, payload: { ...request.payload, prepared: request.type, calledPython: callPython("getState") } };
}
