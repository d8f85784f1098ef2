/** k6 provides console like a browser does; @types/k6 leaves it to the DOM library, which k6 lacks. */
declare const console: {
  log(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
};
