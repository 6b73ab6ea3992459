// Preflight of the npm scripts: Holdfast runs its .ts sources on Node 24's type stripping, and an
// older Node fails with ERR_UNKNOWN_FILE_EXTENSION ".ts", which says nothing about the cause.
// Plain CommonJS in old syntax on purpose: this file must itself run on any Node.
'use strict';
var MINIMUM = 24;
var found = process.versions.node;
if (Number(found.split('.')[0]) < MINIMUM) {
  console.error(
    'Holdfast needs Node.js ' +
      MINIMUM +
      ' or newer (found ' +
      found +
      ').\n' +
      'Install Node.js ' +
      MINIMUM +
      ' LTS from https://nodejs.org/en/download, or with a version manager:\n' +
      '  nvm install ' +
      MINIMUM +
      '   (or: fnm install ' +
      MINIMUM +
      ', volta install node@' +
      MINIMUM +
      ')\n' +
      'then run this command again in a new shell (node --version should print v' +
      MINIMUM +
      ' or later).',
  );
  process.exit(1);
}
