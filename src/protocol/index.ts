export * from './commands.js';
export { Errno, errnoName, errnoNumber, errnoOf } from '../errno.js';
export * from './request.js';
export * from './answer.js';
