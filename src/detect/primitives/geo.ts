/**
 * Geography: great-circle distance.
 *
 * Rules of every primitive: plain JSON data (the runtime writes it to the changelog), pure apart
 * from mutating the structure handed in, times in event-time ms.
 */
const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in km (haversine). */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Largest possible great-circle distance on the haversine sphere (half its circumference), km: ≈ 20 015. */
export const MAX_GREAT_CIRCLE_KM = Math.PI * EARTH_RADIUS_KM;
