package store

import "github.com/apache/arrow-go/v18/arrow"

// batchTables holds one Arrow record under construction per table that Save
// writes. Field order is the order in which save.go appends; names match
// the columns of migrations/0001_init.sql.
type batchTables struct {
	raw, receipts, dimTypes                                 *table
	cdrs, periods, dims, cdrTariffs                         *table
	tariffBodies, tariffElements, tariffComponents, tariffs *table
	locations, evses, connectors                            *table
	invoices, invoiceCDRs                                   *table
	findings, rejects, conflicts                            *table
}

func (b *batchTables) all() []*table {
	return []*table{b.raw, b.receipts, b.dimTypes, b.cdrs, b.periods, b.dims, b.cdrTariffs,
		b.tariffBodies, b.tariffElements, b.tariffComponents, b.tariffs,
		b.locations, b.evses, b.connectors, b.invoices, b.invoiceCDRs,
		b.findings, b.rejects, b.conflicts}
}

var (
	i64   = arrow.PrimitiveTypes.Int64
	i32   = arrow.PrimitiveTypes.Int32
	u16   = arrow.PrimitiveTypes.Uint16
	u8    = arrow.PrimitiveTypes.Uint8
	bool_ = arrow.FixedWidthTypes.Boolean
)

func newBatchTables() *batchTables {
	return &batchTables{
		raw: newTable("raw_payloads",
			col("sha256", blobType), col("size", i64), col("segment", i32), col("byte_offset", i64),
			col("first_received_at", tsType)),
		receipts: newTable("receipts",
			col("sha256", blobType), col("channel", strType), col("source_name", strType), col("partner", strType),
			col("position", i64), col("received_at", tsType), col("kind", strType), col("version", strType),
			col("outcome", strType), col("repeated", bool_)),
		dimTypes: newTable("dimension_types", col("code", u8), col("name", strType)),
		cdrs: newTable("cdrs",
			col("cdr_key", i64), col("country_code", strType), col("party_id", strType), col("id", strType),
			col("country_code_as_sent", strType), col("party_id_as_sent", strType), col("id_as_sent", strType),
			col("version", strType), col("body_sha256", blobType), col("raw_sha256", blobType),
			col("start_date_time", tsType), col("end_date_time", tsType), col("session_id", strType),
			col("token_country_code", strType), col("token_party_id", strType), col("token_uid", strType),
			col("token_type", strType), col("token_contract_id", strType),
			col("auth_method", strType), col("authorization_reference", strType),
			col("location_id", strType), col("location_name", strType), col("location_address", strType),
			col("location_city", strType), col("location_postal_code", strType), col("location_state", strType),
			col("location_country", strType), col("location_latitude", strType), col("location_longitude", strType),
			col("evse_uid", strType), col("evse_id", strType), col("connector_id", strType),
			col("connector_standard", strType), col("connector_format", strType), col("connector_power_type", strType),
			col("location_time_zone", strType), col("location_tariff_ids", strList),
			col("meter_id", strType), col("currency", strType), col("signed_data", strType),
			col("total_cost_excl_vat", decType), col("total_cost_incl_vat", decType),
			col("total_fixed_cost_excl_vat", decType), col("total_fixed_cost_incl_vat", decType),
			col("total_energy", decType),
			col("total_energy_cost_excl_vat", decType), col("total_energy_cost_incl_vat", decType),
			col("total_time", decType),
			col("total_time_cost_excl_vat", decType), col("total_time_cost_incl_vat", decType),
			col("total_parking_time", decType),
			col("total_parking_cost_excl_vat", decType), col("total_parking_cost_incl_vat", decType),
			col("total_reservation_cost_excl_vat", decType), col("total_reservation_cost_incl_vat", decType),
			col("taxes", strType), col("remark", strType), col("invoice_reference_id", strType),
			col("credit", bool_), col("credit_reference_id", strType), col("home_charging_compensation", bool_),
			col("last_updated", tsType), col("received_at", tsType), col("blocking", bool_)),
		periods: newTable("charging_periods",
			col("cdr_key", i64), col("period_index", u16), col("start_date_time", tsType), col("end_date_time", tsType),
			col("tariff_id", strType), col("energy", decType), col("time", decType), col("parking_time", decType),
			col("reservation_time", decType), col("min_current", decType), col("max_current", decType),
			col("min_power", decType), col("max_power", decType)),
		dims: newTable("cdr_dimensions",
			col("cdr_key", i64), col("period_index", u16), col("dimension_index", u16),
			col("type_code", u8), col("volume", decType)),
		cdrTariffs: newTable("cdr_tariffs", col("cdr_key", i64), col("position", u16), col("tariff_key", i64)),
		tariffBodies: newTable("tariff_bodies",
			col("tariff_key", i64), col("sha256", blobType), col("version", strType),
			col("country_code", strType), col("party_id", strType), col("id", strType),
			col("currency", strType), col("type", strType), col("alt_text", strType), col("alt_url", strType),
			col("min_price_excl_vat", decType), col("min_price_incl_vat", decType),
			col("max_price_excl_vat", decType), col("max_price_incl_vat", decType),
			col("tax_included", strType), col("start_date_time", tsType), col("end_date_time", tsType),
			col("energy_mix", strType), col("last_updated", tsType)),
		tariffElements: newTable("tariff_elements",
			col("tariff_key", i64), col("element_index", u16), col("has_restrictions", bool_),
			col("start_time", strType), col("end_time", strType), col("start_date", strType), col("end_date", strType),
			col("min_kwh", decType), col("max_kwh", decType), col("min_current", decType), col("max_current", decType),
			col("min_power", decType), col("max_power", decType), col("min_duration", i64), col("max_duration", i64),
			col("day_of_week", strList), col("reservation", strType)),
		tariffComponents: newTable("tariff_components",
			col("tariff_key", i64), col("element_index", u16), col("component_index", u16),
			col("type", strType), col("price", decType), col("vat", decType), col("step_size", i64)),
		tariffs: newTable("tariffs",
			col("country_code", strType), col("party_id", strType), col("id", strType), col("last_updated", tsType),
			col("tariff_key", i64), col("version", strType), col("raw_sha256", blobType), col("received_at", tsType)),
		locations: newTable("locations",
			col("location_key", i64), col("country_code", strType), col("party_id", strType), col("id", strType),
			col("country_code_as_sent", strType), col("party_id_as_sent", strType), col("id_as_sent", strType),
			col("last_updated", tsType), col("version", strType), col("body_sha256", blobType),
			col("raw_sha256", blobType), col("received_at", tsType), col("publish", bool_),
			col("name", strType), col("address", strType), col("city", strType), col("postal_code", strType),
			col("state", strType), col("country", strType), col("latitude", strType), col("longitude", strType),
			col("time_zone", strType)),
		evses: newTable("location_evses",
			col("location_key", i64), col("evse_index", u16), col("uid", strType), col("evse_id", strType),
			col("status", strType), col("last_updated", tsType)),
		connectors: newTable("location_connectors",
			col("location_key", i64), col("evse_index", u16), col("connector_index", u16), col("id", strType),
			col("standard", strType), col("format", strType), col("power_type", strType),
			col("max_voltage", i64), col("max_amperage", i64), col("max_electric_power", i64),
			col("tariff_ids", strList), col("last_updated", tsType)),
		invoices: newTable("invoice_reconciliations",
			col("irr_key", i64), col("country_code", strType), col("party_id", strType), col("id", strType),
			col("id_as_sent", strType), col("invoice_id", strType), col("last_updated", tsType),
			col("version", strType), col("body_sha256", blobType), col("raw_sha256", blobType),
			col("received_at", tsType)),
		invoiceCDRs: newTable("invoice_reconciliation_cdrs",
			col("irr_key", i64), col("position", i32), col("cdr_id", strType)),
		findings: newTable("findings",
			col("kind", strType), col("object_key", i64), col("country_code", strType), col("party_id", strType),
			col("id", strType), col("path", strType), col("rule", strType), col("message", strType),
			col("blocking", bool_)),
		rejects: newTable("rejects",
			col("raw_sha256", blobType), col("channel", strType), col("source_name", strType), col("partner", strType),
			col("position", i64), col("received_at", tsType), col("kind", strType), col("version", strType),
			col("path", strType), col("rule", strType), col("message", strType), col("blocking", bool_)),
		conflicts: newTable("conflicts",
			col("kind", strType), col("country_code", strType), col("party_id", strType), col("id", strType),
			col("last_updated", tsType), col("stored_sha256", blobType), col("refused_sha256", blobType),
			col("raw_sha256", blobType), col("detected_at", tsType)),
	}
}
