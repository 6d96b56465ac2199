#!/usr/bin/env node
/** dfdaemon: the peer. `dfdaemon --config dfdaemon.yaml`; see daemon/config.ts for the keys. */
import { dfdaemonMain } from '../cli.ts';

process.exitCode = await dfdaemonMain(process.argv.slice(2), { stderr: process.stderr, env: process.env });
