-- Capacity bucket of a dose: dose 1 has its own; dose 2 and the precaution dose share the second.
local function capacityBucket(dose)
  if dose == 1 then return 1 end
  return 2
end
