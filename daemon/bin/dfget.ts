#!/usr/bin/env node
/**
 * dfget from TypeScript callers and tests. The real entry is dfget.js (package.json `bin`): a .ts
 * entry costs Node's type stripper before the compile cache can be turned on there.
 */
import './dfget.js';
