export interface FieldIssue {
  field: string;
  message: string;
}

/** Turns a zod error into the `details.fields` list of a 400. */
interface IssueList {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}

export function fieldIssues(error: IssueList, prefix = ""): FieldIssue[] {
  return error.issues.slice(0, 20).map((issue) => {
    const path = issue.path.map(String).join(".");
    return { field: prefix && path ? `${prefix}.${path}` : prefix || path || "(body)", message: issue.message };
  });
}
