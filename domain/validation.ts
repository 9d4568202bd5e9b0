export interface FieldIssue {
  field: string;
  message: string;
}

/** Turns a zod error into the `details.fields` list of a 400. */
interface IssueList {
  issues: readonly { path: readonly PropertyKey[]; message: string; code?: string; keys?: readonly string[] }[];
}

const MAX_FIELD_ISSUES = 20;

export function fieldIssues(error: IssueList, prefix = ""): FieldIssue[] {
  const name = (path: readonly PropertyKey[]) => {
    const joined = path.map(String).join(".");
    return prefix && joined ? `${prefix}.${joined}` : prefix || joined || "(body)";
  };
  // An unknown key is reported on the object that holds it; name each key instead, so the
  // client learns which field to drop.
  return error.issues
    .flatMap((issue) =>
      issue.code === "unrecognized_keys" && issue.keys && issue.keys.length > 0
        ? issue.keys.slice(0, MAX_FIELD_ISSUES).map((key) => ({ field: name([...issue.path, key]), message: "not a known field" }))
        : [{ field: name(issue.path), message: issue.message }],
    )
    .slice(0, MAX_FIELD_ISSUES);
}
