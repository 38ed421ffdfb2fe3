export { interpolate, locate, parseYamlSource, type Position, type YamlProblem, type YamlSource } from "./_document.ts";
export { describeIssue, fileLocation, formatProblem, isUnknownKey, issueKeys, problemsFromIssues, type Problem, type SourceContext } from "./_problems.ts";
export { keysAt, schemaAt, unwrap, type SchemaNode } from "./_schema.ts";
export { didYouMean } from "./_suggest.ts";
