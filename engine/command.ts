/** Running a module as a command-line tool. */
import { pathToFileURL } from 'node:url';

/**
 * Run `main` when the module at `moduleUrl` is the process's entry point (not when it is imported).
 * Its number is the exit code; a throw prints `<name>: <message>` and exits 3.
 */
export function runAsCommand(moduleUrl: string, name: string, main: () => Promise<number | void>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main().then(
    (code) => process.exit(code ?? 0),
    (err: Error) => {
      console.error(`${name}: ${err.message}`);
      process.exit(3);
    },
  );
}
