package models

import "github.com/syncd/syncd/plan"

// advertisers: GET /3.0/admin/advertisers, full snapshot, key id (a hex string).
const (
	adID = iota
	adTitle
	adEmail
	adCountry
	adManager
	adCreatedAt
	adUpdatedAt
)

var advertisersTable = newTable("advertisers",
	[]column{
		adID:        {name: "id", typ: tString, notNull: true},
		adTitle:     {name: "title", typ: tString},
		adEmail:     {name: "email", typ: tString},
		adCountry:   {name: "country", typ: tString},
		adManager:   {name: "manager", typ: tString},
		adCreatedAt: {name: "created_at", typ: tTimestamp},
		adUpdatedAt: {name: "updated_at", typ: tTimestamp},
	},
	[]string{"id"}, "",
	[]string{"id", "title", "email", "country", "manager", "manager_obj", "created_at", "updated_at"},
	advertiserRow)

// Advertisers is the advertisers table (key id, no day column).
func Advertisers() Model { return advertisersTable }

func advertisersStream() *Stream {
	return &Stream{
		Name: "advertisers", Endpoint: "/3.0/admin/advertisers", ListKey: "advertisers",
		Planner: plan.Snapshot{}, Zone: ZoneUTC, Mode: ReplaceTable, AdminOnly: true,
		Defaults: Defaults{Schedule: "@every 6h"},
		table:    fixed(advertisersTable),
	}
}

func advertiserRow(r *rowState) {
	r.reqStr(adID, "id", r.val("id"))
	r.str(adTitle, "title", r.val("title"))
	r.str(adEmail, "email", r.val("email"))
	r.str(adCountry, "country", r.val("country"))
	// manager is the manager's id ("" when none); manager_obj the object.
	r.str(adManager, "manager", first(idOf(r.val("manager")), idOf(r.val("manager_obj"))))
	r.ts(adCreatedAt, "created_at", r.val("created_at"))
	r.ts(adUpdatedAt, "updated_at", r.val("updated_at"))
}
