/**
 * The country file's states, districts and centres in PostgreSQL, so the system of record can say
 * where a session was without the file. Upserted at every worker start: idempotent, set-based.
 */
import type pg from 'pg';
import type { Country } from '../engine/masterdata.js';
import { inTransaction } from './database.js';

export interface MasterDataCounts {
  states: number;
  districts: number;
  centers: number;
}

export async function saveMasterData(pool: pg.Pool, country: Country): Promise<MasterDataCounts> {
  const { states, districts, centers } = country.data;
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO states (state_id, state_name)
       SELECT * FROM UNNEST($1::int[], $2::text[])
       ON CONFLICT (state_id) DO UPDATE SET state_name = EXCLUDED.state_name
       WHERE states.state_name IS DISTINCT FROM EXCLUDED.state_name`,
      [states.map((s) => s.state_id), states.map((s) => s.state_name)],
    );
    await client.query(
      `INSERT INTO districts (district_id, state_id, district_name)
       SELECT * FROM UNNEST($1::int[], $2::int[], $3::text[])
       ON CONFLICT (district_id) DO UPDATE SET state_id = EXCLUDED.state_id, district_name = EXCLUDED.district_name
       WHERE (districts.state_id, districts.district_name) IS DISTINCT FROM (EXCLUDED.state_id, EXCLUDED.district_name)`,
      [districts.map((d) => d.district_id), districts.map((d) => d.state_id), districts.map((d) => d.district_name)],
    );
    await client.query(
      `INSERT INTO centers (center_id, district_id, name, address, block_name, pincode, lat, long, opens, closes,
                            fee_type, vaccine_fees, slots)
       SELECT c.center_id, c.district_id, c.name, c.address, c.block_name, c.pincode, c.lat, c.long, c.opens, c.closes,
              c.fee_type, c.vaccine_fees::jsonb, CASE WHEN c.slots IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(c.slots::jsonb)) END
       FROM UNNEST($1::int[], $2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::float8[],
                   $9::time[], $10::time[], $11::text[], $12::text[], $13::text[])
         AS c(center_id, district_id, name, address, block_name, pincode, lat, long, opens, closes, fee_type, vaccine_fees, slots)
       ON CONFLICT (center_id) DO UPDATE SET
         district_id = EXCLUDED.district_id, name = EXCLUDED.name, address = EXCLUDED.address,
         block_name = EXCLUDED.block_name, pincode = EXCLUDED.pincode, lat = EXCLUDED.lat, long = EXCLUDED.long,
         opens = EXCLUDED.opens, closes = EXCLUDED.closes, fee_type = EXCLUDED.fee_type,
         vaccine_fees = EXCLUDED.vaccine_fees, slots = EXCLUDED.slots
       WHERE (centers.district_id, centers.name, centers.address, centers.block_name, centers.pincode, centers.lat,
              centers.long, centers.opens, centers.closes, centers.fee_type, centers.vaccine_fees, centers.slots)
         IS DISTINCT FROM
             (EXCLUDED.district_id, EXCLUDED.name, EXCLUDED.address, EXCLUDED.block_name, EXCLUDED.pincode, EXCLUDED.lat,
              EXCLUDED.long, EXCLUDED.opens, EXCLUDED.closes, EXCLUDED.fee_type, EXCLUDED.vaccine_fees, EXCLUDED.slots)`,
      [
        centers.map((c) => c.center_id),
        centers.map((c) => c.district_id),
        centers.map((c) => c.name),
        centers.map((c) => c.address),
        centers.map((c) => c.block_name),
        centers.map((c) => c.pincode ?? null),
        centers.map((c) => c.lat),
        centers.map((c) => c.long),
        centers.map((c) => c.from),
        centers.map((c) => c.to),
        centers.map((c) => c.fee_type),
        // nested arrays cannot travel through UNNEST: one JSON text per centre
        centers.map((c) => (c.vaccine_fees ? JSON.stringify(c.vaccine_fees) : null)),
        centers.map((c) => (c.slots ? JSON.stringify(c.slots) : null)),
      ],
    );
  });
  return { states: states.length, districts: districts.length, centers: centers.length };
}
