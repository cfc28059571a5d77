'use strict';
// require('utmps-ts'): the library is an ES module. Node 20.19+ and 22.12+ load it with
// require() (the same instance import() gives); older Nodes cannot, and this says so
// plainly instead of a bare ERR_REQUIRE_ESM.
try {
  module.exports = require('../dist/src/index.js');
} catch (error) {
  if (error && (error.code === 'ERR_REQUIRE_ESM' || error.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
    const refusal = new Error(
      `utmps-ts is an ES module, and Node ${process.version} cannot require() it. ` +
        "Use `import { ... } from 'utmps-ts'`, or `await import('utmps-ts')` from CommonJS; " +
        'require() works from Node 20.19 and 22.12.',
      { cause: error },
    );
    refusal.code = 'ERR_REQUIRE_ESM';
    throw refusal;
  }
  throw error;
}
