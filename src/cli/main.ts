#!/usr/bin/env node
// The `prerank` command: runs the command tree of commands.ts. Exit codes: 0 done, 1 the work failed, 2 a usage mistake.
import { PRERANK } from './commands.js';
import { commandOf, runCommand, UsageError } from './command.js';
import { packageVersion } from '../util/version.js';


const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  console.log(packageVersion());
} else {
  try {
    await runCommand(PRERANK, argv);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${err.usage}`);
      process.exit(2);
    }
    console.error(`${commandOf(err) ?? 'prerank'}: ${(err as Error).message}`);
    process.exit(1);
  }
}
