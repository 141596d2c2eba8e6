package models

import "github.com/syncd/syncd/plan"

// partners: GET /3.0/admin/partners, full snapshot, key id. Partners carry
// their real api_key (and their manager's): raw never keeps it.
const (
	ptID = iota
	ptEmail
	ptLogin
	ptName
	ptStatus
	ptManagerID
	ptCountry
	ptCreatedAt
	ptUpdatedAt
)

var partnersTable = newTable("partners",
	[]column{
		ptID:        {name: "id", typ: tInt64, notNull: true},
		ptEmail:     {name: "email", typ: tString},
		ptLogin:     {name: "login", typ: tString},
		ptName:      {name: "name", typ: tString},
		ptStatus:    {name: "status", typ: tString},
		ptManagerID: {name: "manager_id", typ: tString},
		ptCountry:   {name: "country", typ: tString},
		ptCreatedAt: {name: "created_at", typ: tTimestamp},
		ptUpdatedAt: {name: "updated_at", typ: tTimestamp},
	},
	[]string{"id"}, "",
	[]string{"id", "email", "login", "name", "status", "manager", "manager_id", "country", "created_at", "updated_at"},
	partnerRow)

// Partners is the partners table (key id, no day column).
func Partners() Model { return partnersTable }

func partnersStream() *Stream {
	return &Stream{
		Name: "partners", Endpoint: "/3.0/admin/partners", ListKey: "partners",
		Planner: plan.Snapshot{}, Zone: ZoneUTC, Mode: ReplaceTable, AdminOnly: true,
		Defaults: Defaults{Schedule: "@every 6h"},
		table:    fixed(partnersTable),
	}
}

func partnerRow(r *rowState) {
	r.reqInt(ptID, "id", r.val("id"))
	r.str(ptEmail, "email", r.val("email"))
	r.str(ptLogin, "login", r.val("login"))
	r.str(ptName, "name", r.val("name"))
	r.str(ptStatus, "status", r.val("status"))
	// manager is null or an object {id, first_name, ...}; tolerate a scalar id.
	r.str(ptManagerID, "manager.id", first(idOf(r.val("manager")), r.val("manager_id")))
	r.str(ptCountry, "country", r.val("country"))
	r.ts(ptCreatedAt, "created_at", r.val("created_at"))
	r.ts(ptUpdatedAt, "updated_at", r.val("updated_at"))
}
