export * from './layout.js';
export * from './codec.js';
export * from './convert.js';
export * from './address.js';
export * from './fields.js';
export * from './entry.js';
