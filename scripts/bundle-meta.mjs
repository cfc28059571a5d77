// Injected into each CommonJS bundle (scripts/bundle.mjs): what import.meta.url would be.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
