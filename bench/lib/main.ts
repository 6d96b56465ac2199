/**
 * The entry of the `npm run bench*` scripts: parse the arguments (a bad one prints the usage and
 * exits 2), answer --help, then run `main` under one AbortController that Ctrl-C, SIGTERM and the
 * deadline abort. Whatever the run started is cleaned up however it ends; exit 130 when stopped.
 */
import { installInterruptHandlers, runCleanup } from './cleanup.ts';

export interface BenchScript<A extends { readonly help: boolean }> {
  /** As the messages name it, e.g. `bench:mirror`. */
  readonly name: string;
  readonly usage: string;
  readonly deadlineMs: number;
  parse(argv: readonly string[]): A;
  main(args: A, signal: AbortSignal): Promise<number>;
}

export async function runBenchScript<A extends { readonly help: boolean }>(script: BenchScript<A>): Promise<void> {
  let args: A;
  try {
    args = script.parse(process.argv.slice(2));
  } catch (error) {
    console.error(`${script.name}: ${(error as Error).message}\n\n${script.usage}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(script.usage);
    process.exit(0);
  }
  const controller = new AbortController();
  const uninstall = installInterruptHandlers(controller, script.deadlineMs);
  try {
    process.exitCode = await script.main(args, controller.signal);
  } catch (error) {
    console.error(`${script.name}: ${controller.signal.aborted ? 'stopped' : 'failed'}: ${(error as Error)?.message ?? error}`);
    process.exitCode = controller.signal.aborted ? 130 : 1;
  } finally {
    await runCleanup();
    uninstall();
  }
}
