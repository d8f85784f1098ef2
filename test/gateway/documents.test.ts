/**
 * Names in any script, documents in the citizen's language: the API accepts real names (joiners,
 * the Devanagari abbreviation sign, several scripts) and refuses markup; the slip prints them as
 * typed, read back with poppler's pdftotext; every script's line is inked along its length when
 * rendered by pdftoppm (how a font that loses glyphs when subset was caught); the language files
 * carry every word the documents print.
 */
import { readdirSync } from 'node:fs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENT_KEYS, documentText, i18nDirectory, languageFile } from '../../gateway/i18n.js';
import { PdfPage, scriptRuns } from '../../gateway/pdf-page.js';
import { renderSlip, type SlipContent } from '../../gateway/slip.js';
import { personName } from '../../gateway/validation.js';
import { testCountries } from '../support/countries.js';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';
import { pdfPages, pdfText, renderFirstPage } from '../support/pdf.js';

/** Real names, one per script teeka prints, with the characters that tripped the old rule. */
const NAMES = {
  Devanagari: 'डॉ॰ मीना अय्यर',
  Bengali: 'র‍্যাভেন দাস', // ZWJ: the ra-phala-ya form
  Gujarati: 'હર્ષ પટેલ',
  Gurmukhi: 'ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ',
  Kannada: 'ಮೀನಾ ಅಯ್ಯರ್',
  Malayalam: 'ശ്രീ‌ലക്ഷ്മി നായർ', // ZWNJ
  Oriya: 'ସୁଭଶ୍ରୀ ମହାନ୍ତି',
  Tamil: 'கார்த்திக் சுப்பிரமணியன்',
  Telugu: 'శ్రీనివాస్ రెడ్డి',
  Latin: 'Nóra O’Brien-Ní Bhriain',
  Greek: 'Ελένη Παπαδοπούλου',
  Cyrillic: 'Анна Иванова',
  Mixed: 'Meena मीना',
};

describe('names in any script', () => {
  it('accepts real names in every script, joiners, apostrophes and the abbreviation sign; stores them NFC', () => {
    for (const name of Object.values(NAMES)) expect(personName.safeParse(name)).toEqual({ success: true, data: name.normalize('NFC') });
    // decomposed input (e + combining acute) is stored composed; runs of spaces become one
    expect(personName.parse('Rene\u0301e  Dubois ')).toBe('Renée Dubois');
  });

  it('refuses markup, digits, symbols, emoji, a leading joiner and nothing but spaces, with a plain message', () => {
    for (const name of ['<b>Meena</b>', 'Meena & Co', 'Meena1', 'Meena 😀', '\u200dMeena', '   ', '"Meena"', 'Meena;DROP']) {
      const parsed = personName.safeParse(name);
      expect(parsed.success, name).toBe(false);
      expect(parsed.error!.issues[0]!.message).toMatch(/^expected a name/);
    }
  });

  it('cuts text into runs of one script, spaces and digits staying with their neighbours', () => {
    expect(scriptRuns('Meena मीना (ಮೀನಾ) 1985')).toEqual([
      { script: 'Latin', text: 'Meena ' },
      { script: 'Devanagari', text: 'मीना (' },
      { script: 'Kannada', text: 'ಮೀನಾ) 1985' },
    ]);
    expect(scriptRuns('(1985) मीना')).toEqual([{ script: 'Devanagari', text: '(1985) मीना' }]);
  });
});

describe('the language files', () => {
  const reference = languageFile('en')!;

  it("English has exactly the documents' words the code prints", () => {
    expect(Object.keys(reference.documents as object).filter((k) => k !== 'status').sort()).toEqual([...DOCUMENT_KEYS].sort());
  });

  it('every file has the same words as English, no more and no fewer, and no placeholder lost in translation', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    const english = documentText('en');
    for (const file of readdirSync(i18nDirectory()).filter((f) => f.endsWith('.json'))) {
      const language = file.slice(0, -'.json'.length);
      const own = languageFile(language)!.documents as Record<string, unknown>;
      expect(Object.keys(own).sort(), file).toEqual(Object.keys(reference.documents as object).sort());
      expect(Object.keys(own.status as object).sort(), file).toEqual(Object.keys(english.status).sort());
      const text = documentText(language);
      for (const key of DOCUMENT_KEYS) expect(placeholders(text[key]), `${file}: ${key}`).toEqual(placeholders(english[key]));
    }
  });

  it('every language a country file offers has its file', () => {
    for (const { country } of testCountries()) for (const language of country.languages) expect(languageFile(language), `${country.data.country.code}: ${language}`).not.toBeNull();
  });
});

describe('the documents print every script', () => {
  const slip: SlipContent = {
    appointmentId: '0b7c3e52-4a0e-4f7e-9a51-6f1d2b0c9e11',
    countryName: 'India (demo: Delhi and Karnataka)',
    centerName: 'ಯುಪಿಎಚ್‌ಸಿ ಕನ್ನಾಟ್ ಪ್ಲೇಸ್',
    centerAddress: 'Connaught Place, Block A',
    districtName: 'नई दिल्ली',
    stateName: 'दिल्ली',
    pincode: 110001,
    date: '30-11-2026',
    slot: '09:00AM-11:00AM',
    dose: 1,
    vaccine: 'COVISHIELD',
    beneficiaries: Object.values(NAMES).map((name, i) => ({
      referenceId: String(10_000_000_000_001 + i),
      name,
      birthYear: 1960 + i,
      photoIdType: 'Aadhaar Card',
      photoIdLast4: String(1000 + i),
      status: i % 2 ? 'booked' : 'vaccinated',
      securityCode: String(4000 + i),
    })),
  };

  it('every script is drawn whole: each line of a page of names is inked along its length, and reads back as typed', async () => {
    // a font that loses glyphs when subset (Noto Sans's Latin file did: "India" drew as "d") leaves
    // most of its line blank; measured on pages rendered by poppler, a whole line is inked over
    // 50–95% of its columns (the gaps between words), a line with lost glyphs over 20–30%
    const SIZE = 16;
    const GAP = 28;
    const TOP = 780;
    const page = await PdfPage.create('names');
    const lines = Object.entries(NAMES).flatMap(([script, name]) => [`${name}`, `${script}: ${name} (1985) 09:00AM-11:00AM`]);
    for (const line of lines) await page.line(line, SIZE, 'regular', GAP);
    const pdf = await page.save();
    const png = PNG.sync.read(await renderFirstPage(pdf, 100));
    const scale = 100 / 72;
    lines.forEach((line, i) => {
      const baseline = (842 - (TOP - i * GAP)) * scale;
      const inked = Array.from({ length: png.width }, (_, x) => {
        for (let y = Math.round(baseline - SIZE * scale); y < Math.round(baseline + 0.3 * SIZE * scale); y++) if (png.data[(y * png.width + x) * 4]! < 128) return true;
        return false;
      });
      const span = inked.slice(inked.indexOf(true), inked.lastIndexOf(true) + 1);
      expect(span.filter(Boolean).length / span.length, line).toBeGreaterThan(0.4);
    });
    const extracted = await pdfText(pdf);
    for (const line of lines) expect(extracted, line).toContain(line.normalize('NFC'));
  });

  it.each(['en', 'hi', 'kn'])('the slip with every script, labels in %s: names and labels read back as typed, fonts subset', async (language) => {
    const text = documentText(language);
    // a family of four per slip, as an account books them
    for (let i = 0; i < slip.beneficiaries.length; i += 4) {
      const family = slip.beneficiaries.slice(i, i + 4);
      const pdf = await renderSlip({ ...slip, beneficiaries: family }, text);
      expect(pdf.length).toBeLessThan(150_000); // subsets: a whole Noto font is 200–600 KB
      const extracted = await pdfText(pdf);
      for (const { name } of family) expect(extracted, name).toContain(name.normalize('NFC'));
      expect(extracted).toContain(text.slipTitle);
      expect(extracted).toContain(text.status[family[0]!.status]!);
      expect(extracted).not.toContain('?');
    }
  });

  it("a slip for the most beneficiaries a country allows goes on to a second page instead of off the first's bottom", async () => {
    const text = documentText('en');
    // masterdata allows up to 20 people per account; one page holds about ten
    const many = Array.from({ length: 20 }, (_, i) => ({ ...slip.beneficiaries[i % slip.beneficiaries.length]!, name: `Person Number${String.fromCharCode(65 + i)}`, referenceId: String(20_000_000_000_001 + i) }));
    const pdf = await renderSlip({ ...slip, beneficiaries: many }, text);
    const pages = await pdfPages(pdf);
    expect(pages.length).toBeGreaterThan(1);
    // pdftotext reads only what lies on a page: every name, each whole on one page, once
    for (const { name } of many) expect(pages.filter((page) => page.includes(name)), name).toHaveLength(1);
    expect(pages.at(-1)).toContain(text.codeAdvice);
  });

  it('a script with no font prints as ? and is still in the text layer; the same slip renders to the same bytes', async () => {
    const text = documentText('en');
    const withCjk = { ...slip, beneficiaries: [{ ...slip.beneficiaries[0]!, name: '李 Meena' }] };
    const [first, second] = await Promise.all([renderSlip(withCjk, text), renderSlip(withCjk, text)]);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
    expect(await pdfText(first)).toContain('李 Meena');
  });
});

describe('through the API', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('a family registered in three scripts books, and its slip names each of them as typed, in the language asked for', async () => {
    const { engine } = gateway;
    const center = engine.country.data.centers[0]!;
    const published = await engine.publishSession({ center_id: center.center_id, date: engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 10, capacity_dose2: 0 });
    if (!published.ok) throw new Error('publish failed');
    const citizen = await new CowinClient(gateway.url).login(testMobile());
    const family = [NAMES.Devanagari, NAMES.Kannada, NAMES.Malayalam];
    const ids = [];
    for (const name of family) ids.push(await citizen.addBeneficiary(name, 1980, testPhotoId()));
    const listed = (await citizen.get('/api/v2/appointment/beneficiaries')).json.beneficiaries.map((b: { name: string }) => b.name);
    expect(listed).toEqual(family);
    const refused = await citizen.post('/api/v2/registration/beneficiary/new', {
      name: '<script>x</script>', birth_year: '1980', gender_id: 1, photo_id_type: 1, photo_id_number: testPhotoId(), comorbidity_ind: 'N', consent_version: 'V1',
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatch(/^name: expected a name/);

    const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: published.sessionId, slot: engine.country.slotsOf(center)[0], beneficiaries: ids });
    expect(booked.status, booked.text).toBe(200);
    const slipIn = async (query: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${gateway.url}/api/v2/appointment/appointmentslip/download?appointment_id=${booked.json.appointment_confirmation_no}${query}`, {
        headers: { authorization: `Bearer ${citizen.token}`, ...headers },
      });
      expect(response.status).toBe(200);
      return pdfText(Buffer.from(await response.arrayBuffer()));
    };
    const hindi = await slipIn('&lang=hi');
    for (const name of family) expect(hindi).toContain(name);
    expect(hindi).toContain('टीकाकरण अपॉइंटमेंट पर्ची');
    expect(hindi).toContain(center.localized!.hi!.name!);
    const kannada = await slipIn('', { 'accept-language': 'kn' });
    expect(kannada).toContain('ಲಸಿಕೆ ಅಪಾಯಿಂಟ್‌ಮೆಂಟ್ ಚೀಟಿ');
    expect(kannada).toContain(`ಭದ್ರತಾ ಕೋಡ್: ${booked.json.security_codes[0].security_code}`);
    const english = await slipIn('');
    expect(english).toContain('Vaccination Appointment Slip');
    for (const name of family) expect(english).toContain(name);
  });
});
