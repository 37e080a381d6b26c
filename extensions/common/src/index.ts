export * from "./client.js";
export * from "./completer.js";
export * from "./context.js";
export * from "./debounce.js";
export * from "./events.js";
export * from "./sse.js";
export * from "./triggers.js";
