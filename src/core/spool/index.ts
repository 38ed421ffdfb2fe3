export { openJournal, type Journal, type JournalEntry, type JournalState } from "./journal.ts";
export { openEventSpool, type EventSpool, type EventSpoolOptions, type OverflowPolicy, type SpooledEvent } from "./events.ts";
