export * from './commands.js';
export * from './errno.js';
export * from './request.js';
export * from './answer.js';
