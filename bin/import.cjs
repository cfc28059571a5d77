'use strict';
// Loads an ES module. Kept apart from launch.cjs: compiling any CommonJS file that holds an
// import() costs Node 20 about 10 ms of start-up, which only the unbundled path should pay.
module.exports = (path) => import(path);
