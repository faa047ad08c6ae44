-- A packed code's owner is its package's (postgres; the same index as
-- migrations/sqlite/0013_packed_owner.sql). A shipment of packages moves
-- the packages, not each code inside them: `codes.owner` of a packed code
-- is brought up to date when it leaves its package. An inspector's block
-- is the one thing that sets a packed code apart from the others in its
-- package, so the blocked codes are indexed, to be found without reading
-- every code inside.
CREATE INDEX codes_blocked ON codes (gtin, serial) WHERE blocked;
