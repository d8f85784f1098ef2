--[[
  A beneficiary's record (the `ben:<id>` JSON of an account hash) as registration writes it, and
  the rule that keeps one from being deleted. Shared by the single-slot scripts (addBeneficiary,
  deleteBeneficiary) and the partitioned registration (registerBeneficiary, removeBeneficiary).
]]

-- Complete a new beneficiary (the caller's fields: name, birth year, photo ID hash, ...) as version 1.
local function newBeneficiary(ben, id, now)
  ben.id = id
  ben.version = 1
  ben.registered_at = now
  ben.vaccine = ''
  ben.dose1, ben.dose2, ben.dose3 = 0, 0, 0
  ben.appt1, ben.appt2, ben.appt3 = '', '', ''
  ben.appt1_day, ben.appt2_day, ben.appt3_day = 0, 0, 0
  return ben
end

-- A beneficiary with a recorded dose or a live appointment stays: their history must not disappear.
local function beneficiaryLocked(ben, today)
  for dose = 1, 3 do
    if (ben['dose' .. dose] or 0) > 0 then return true end
    if (ben['appt' .. dose] or '') ~= '' and (ben['appt' .. dose .. '_day'] or 0) >= today then return true end
  end
  return false
end

-- The outbox entry of a deleted beneficiary: the next version, with when it was deleted.
local function deletedBeneficiary(ben, accountId, now)
  ben.version = (ben.version or 0) + 1
  ben.deleted_at = now
  ben.account_id = accountId
  return ben
end
