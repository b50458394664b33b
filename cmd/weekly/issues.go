package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/backendweekly/weekly/digest"
)

// cmdIssues runs "weekly issues SUBCOMMAND".
func cmdIssues(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "issues", args, map[string]command{
		"list": {"list the issues sent (or sending) with their delivery counts", issuesList},
		"show": {"print one issue with its items and counts", issuesShow},
	})
}

func issuesList(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "issues list", "issues list [--json]")
	asJSON := dc.fs.Bool("json", false, "print a JSON array instead of a table")
	if _, err := dc.parse(args, 0, 0, "no arguments"); err != nil {
		return helpOK(err)
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	list, err := issues.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []digest.Summary{}
		}
		return json.NewEncoder(e.stdout).Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No issue has been sent yet.")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSENT\tSTATUS\tITEMS\tDELIVERED\tFAILED\tRETRYING\tBOUNCED\tUNSUBSCRIBED\tSUBJECT")
	for _, s := range list {
		when := s.SentAt
		if when.IsZero() {
			when = s.SendStartedAt
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d/%d\t%d\t%d\t%d\t%d\t%s\n", s.Number, when.In(dc.c.location).Format("2006-01-02 15:04"),
			s.Status, s.Items, s.Sent, s.Recipients, s.Failed, s.Retrying, s.Bounced, s.Unsubscribed, s.Subject)
	}
	return tw.Flush()
}

func issuesShow(ctx context.Context, e *env, args []string) error {
	dc := newDigestCmd(e, "issues show", "issues show N [--json]")
	asJSON := dc.fs.Bool("json", false, "print a JSON object instead of text")
	pos, err := dc.parse(args, 1, 1, "one issue number")
	if err != nil {
		return helpOK(err)
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 1 {
		return usageError{fmt.Errorf("issues show: %q is not an issue number", pos[0])}
	}
	issues, done, err := dc.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	iss, err := issues.ByNumber(ctx, n)
	if errors.Is(err, digest.ErrNotFound) {
		return usageError{fmt.Errorf("issues show: there is no issue #%d (see 'weekly issues list')", n)}
	}
	if err != nil {
		return err
	}
	sum, err := issues.Summarize(ctx, iss.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(struct {
			digest.Issue
			Counts digest.Tally `json:"counts"`
		}{iss, sum.Tally})
	}
	printIssue(e.stdout, iss, dc.c.location)
	if iss.Status != digest.StatusDraft {
		t := sum.Tally
		fmt.Fprintf(e.stdout, "\nDeliveries: %d recipients, %d sent, %d failed, %d retrying, %d pending, %d skipped\n",
			t.Recipients, t.Sent, t.Failed, t.Retrying, t.Pending, t.Skipped)
		fmt.Fprintf(e.stdout, "Attributed to this issue: %d bounced, %d unsubscribed, %d complaints\n", t.Bounced, t.Unsubscribed, t.Complained)
	}
	return nil
}
