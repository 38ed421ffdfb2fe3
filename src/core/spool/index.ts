export { openJournal, type Journal, type JournalEntry, type JournalState } from "./journal.ts";
