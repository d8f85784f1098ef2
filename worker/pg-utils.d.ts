/** node-postgres's own conversion of a query value to what it sends (not in @types/pg). */
declare module 'pg/lib/utils.js' {
  /** a JavaScript array becomes its PostgreSQL array literal, as pg does for every array parameter */
  export function prepareValue(value: unknown): unknown;
}
