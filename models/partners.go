package models

import "github.com/syncd/syncd/plan"

// partners: a snapshot of every partner (admin keys), replacing the table
// each pass. Partners carry their real api_key (and their manager's): raw
// never keeps it.
func partnersStream() *Stream {
	return &Stream{
		Name: "partners", Endpoint: "/3.0/admin/partners", ListKey: "partners",
		Planner: plan.Snapshot{}, Zone: ZoneUTC, Mode: ReplaceTable, AdminOnly: true,
		Defaults: Defaults{Schedule: "@every 6h"},
		Key:      []string{"id"}, Version: "updated_at",
		columns: []column{
			{name: "id", typ: tInt64},
			{name: "email", typ: tString},
			{name: "login", typ: tString},
			{name: "name", typ: tString},
			{name: "status", typ: tString},
			// manager is null or an object {id, first_name, ...}; tolerate a scalar id.
			{name: "manager_id", typ: tString, from: either(idAt("manager"), at("manager_id"))},
			{name: "country", typ: tString},
			{name: "created_at", typ: tTimestamp},
			{name: "updated_at", typ: tTimestamp},
		},
	}
}

// Partners is the partners table.
func Partners() Model { return declaredTable(partnersStream()) }
