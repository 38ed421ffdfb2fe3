// Exports no plugin object: start must refuse it.
export const answer = 42;
