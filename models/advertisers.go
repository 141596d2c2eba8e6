package models

import "github.com/syncd/syncd/plan"

// advertisers: a snapshot of every advertiser (admin keys), replacing the
// table each pass. The key is a hex string.
func advertisersStream() *Stream {
	return &Stream{
		Name: "advertisers", Endpoint: "/3.0/admin/advertisers", ListKey: "advertisers",
		Planner: plan.Snapshot{}, Zone: ZoneUTC, Mode: ReplaceTable, AdminOnly: true,
		Defaults: Defaults{Schedule: "@every 6h"},
		Key:      []string{"id"}, Version: "updated_at",
		columns: []column{
			{name: "id", typ: tString},
			{name: "title", typ: tString},
			{name: "email", typ: tString},
			{name: "country", typ: tString},
			// manager is the manager's id ("" when none); manager_obj the object.
			{name: "manager", typ: tString, from: either(idAt("manager"), idAt("manager_obj")).named("manager")},
			{name: "created_at", typ: tTimestamp},
			{name: "updated_at", typ: tTimestamp},
		},
	}
}

// Advertisers is the advertisers table.
func Advertisers() Model { return declaredTable(advertisersStream()) }
