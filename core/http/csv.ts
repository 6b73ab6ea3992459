// The appliance's CSV writer lives in core/plugins/csv.ts (plugins' exports use it too); the
// pages and the API import it from here.
export { csvCell, csvLine } from '../plugins/csv.ts';
