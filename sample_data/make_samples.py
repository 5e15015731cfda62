"""Write fieldkit's demo data: a Kobo-style survey export and a multi-component service log.

Deterministic (fixed seed): running it again reproduces the committed files byte for byte.
Everything here is made up by the project (Apache-2.0); no real person or site is described.

    python sample_data/make_samples.py
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240305
N_RESPONDENTS = 300

# --- survey --------------------------------------------------------------------------

SITES = [  # name, latitude, longitude, altitude
    ("camp_north", 36.3721, 42.4489, 271.0),
    ("camp_south", 36.3302, 42.4611, 265.0),
    ("town_centre", 36.3550, 42.4420, 280.0),
    ("river_village", 36.3915, 42.4851, 255.0),
]
WATER_SOURCES = ["piped", "borehole", "trucking", "bottled", "well"]
PROBLEMS = ["too_far", "queue_long", "dirty_water", "cost_high", "pump_broken", "none"]

# Free-text answers about the same few issues in four languages, so themes cluster
# across languages: water access, health clinic, food distribution, school, safety, roads.
TEXTS = {
    "en": {
        "water": ["The water point is too far, we walk {n} minutes each way.",
                  "Queue at the tap is very long in the morning, sometimes {n} people.",
                  "The pump has been broken for {n} days and nobody came to fix it.",
                  "Water from the truck smells bad and the children got sick.",
                  "We need more water tanks, the tank is empty by the afternoon."],
        "health": ["The clinic has no medicine for children, we were told to come back next week.",
                   "Doctor only comes twice a week, we waited {n} hours.",
                   "Clinic staff were kind and helpful, thank you."],
        "food": ["Food distribution was late this month by {n} days.",
                 "The voucher amount is not enough for a family of {n}.",
                 "Rice and oil were given but no lentils this time."],
        "school": ["School is far and the road is not safe for girls.",
                   "Teachers are good but classrooms are overcrowded, {n} pupils in one room."],
        "roads": ["After the rain the road floods and trucks cannot reach us.",
                  "Street lights are broken, it is dark and unsafe at night."],
    },
    "fr": {
        "water": ["Le point d'eau est trop loin, nous marchons {n} minutes.",
                  "La pompe est en panne depuis {n} jours, personne n'est venu la réparer.",
                  "L'eau du camion a une mauvaise odeur, les enfants sont malades."],
        "health": ["Le centre de santé n'a pas de médicaments pour les enfants.",
                   "Nous avons attendu {n} heures à la clinique."],
        "food": ["La distribution de nourriture était en retard de {n} jours.",
                 "Le montant du bon ne suffit pas pour une famille de {n} personnes."],
        "school": ["L'école est loin et la route n'est pas sûre pour les filles."],
        "roads": ["Après la pluie la route est inondée, les camions ne passent pas."],
    },
    "es": {
        "water": ["El punto de agua está muy lejos, caminamos {n} minutos.",
                  "La bomba lleva {n} días rota y nadie vino a repararla.",
                  "Hay una fila muy larga en el grifo por la mañana."],
        "health": ["La clínica no tiene medicinas para los niños.",
                   "Esperamos {n} horas para ver al médico."],
        "food": ["La distribución de comida llegó con {n} días de retraso.",
                 "El cupón no alcanza para una familia de {n}."],
        "school": ["La escuela está lejos y el camino no es seguro para las niñas."],
        "roads": ["Con la lluvia el camino se inunda y los camiones no llegan."],
    },
    "ar": {
        "water": ["نقطة المياه بعيدة جدا، نمشي {n} دقيقة.",
                  "المضخة معطلة منذ {n} أيام ولم يأت أحد لإصلاحها.",
                  "طابور طويل جدا عند الحنفية في الصباح."],
        "health": ["العيادة لا يوجد فيها دواء للأطفال.",
                   "انتظرنا {n} ساعات في العيادة."],
        "food": ["توزيع الغذاء تأخر {n} أيام هذا الشهر."],
        "school": ["المدرسة بعيدة والطريق غير آمن للبنات."],
        "roads": ["بعد المطر تغرق الطريق ولا تصل الشاحنات."],
    },
}
LANG_WEIGHTS = [("en", 0.58), ("fr", 0.2), ("es", 0.13), ("ar", 0.09)]
TOPIC_WEIGHTS = [("water", 0.38), ("health", 0.2), ("food", 0.2), ("school", 0.1), ("roads", 0.12)]


def _pick(rng: random.Random, weighted):
    r, acc = rng.random(), 0.0
    for item, w in weighted:
        acc += w
        if r <= acc:
            return item
    return weighted[-1][0]


def _answer(rng: random.Random) -> tuple[str, str, str]:
    lang = _pick(rng, LANG_WEIGHTS)
    topic = _pick(rng, TOPIC_WEIGHTS)
    text = rng.choice(TEXTS[lang][topic]).format(n=rng.randint(2, 45))
    if rng.random() < 0.25:  # a second sentence on another topic
        other = _pick(rng, TOPIC_WEIGHTS)
        text += " " + rng.choice(TEXTS[lang][other]).format(n=rng.randint(2, 9))
    return lang, topic, text


def make_survey(path: Path) -> None:
    rng = random.Random(SEED)
    offset = dt.timezone(dt.timedelta(hours=3))
    header = [
        "start", "end", "today", "deviceid", "username", "consent",
        "respondent/site", "respondent/age", "respondent/gender", "respondent/household_size",
        "water/main_source", "water/problems",
        *[f"water/problems/{p}" for p in PROBLEMS],
        "water/minutes_to_source", "feedback/comment", "feedback/language",
        "gps", "_gps_latitude", "_gps_longitude", "_gps_altitude", "_gps_precision",
        "_id", "_uuid", "_submission_time", "_validation_status", "_status", "_submitted_by",
        "_tags", "_notes", "_index",
    ]
    rows = []
    base = dt.datetime(2024, 3, 4, 7, 30, tzinfo=offset)
    for i in range(N_RESPONDENTS):
        start = base + dt.timedelta(days=i // 60, minutes=rng.randint(0, 600), seconds=rng.randint(0, 59),
                                    milliseconds=rng.randint(0, 999))
        end = start + dt.timedelta(minutes=rng.randint(8, 45), seconds=rng.randint(0, 59))
        submitted = end + dt.timedelta(hours=rng.randint(0, 30), minutes=rng.randint(0, 59))
        site, lat, lon, alt = rng.choice(SITES)
        lat += rng.gauss(0, 0.004)
        lon += rng.gauss(0, 0.004)
        alt += rng.gauss(0, 3)
        prec = rng.choice([3.9, 4.8, 5.0, 7.5, 12.0])
        problems = [p for p in PROBLEMS[:-1] if rng.random() < 0.3] or ["none"]
        lang, topic, comment = _answer(rng)
        age = str(rng.randint(18, 75))
        hh = str(rng.randint(1, 11))
        gps = f"{lat:.6f} {lon:.6f} {alt:.1f} {prec}"
        glat, glon, galt, gprec = f"{lat:.6f}", f"{lon:.6f}", f"{alt:.1f}", str(prec)
        # a few messy cells, as real exports have them
        if i % 97 == 13:
            age = "forty"
        if i % 89 == 7:
            hh = "999"
        if i % 53 == 5:
            comment = "  " + comment + "  "
        if i % 71 == 11:
            comment = 'He said "the pump, again", and left.\nSecond line of the answer.'
        if i % 41 == 17:
            comment = ""
        if i % 113 == 23:  # no GPS fix
            gps = glat = glon = galt = gprec = ""
        rid = 41_000_000 + i * 7 + rng.randint(0, 6)
        uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rows.append([
            start.isoformat(timespec="milliseconds"), end.isoformat(timespec="milliseconds"),
            start.date().isoformat(), f"collect:{uid[:16].replace('-', '')}",
            rng.choice(["enum_amal", "enum_pierre", "enum_lucia", "enum_omar"]), "yes",
            site, age, rng.choice(["female", "male"]), hh,
            rng.choice(WATER_SOURCES), " ".join(problems),
            *["1" if p in problems else "0" for p in PROBLEMS],
            str(rng.randint(2, 90)), comment, lang,
            gps, glat, glon, galt, gprec,
            str(rid), uid, submitted.isoformat(timespec="seconds"), "", "submitted_via_web",
            "", "", "", str(i + 1),
        ])
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


# --- log -----------------------------------------------------------------------------

COMPONENTS = {
    "sync.uploader": ["uploaded batch {b} ({n} submissions) in {ms} ms",
                      "queued {n} submissions for upload",
                      "upload retry {r}/5 for batch {b}"],
    "api.http": ["GET /api/v1/forms/{f}/data 200 {ms}ms",
                 "POST /api/v1/submissions 201 {ms}ms",
                 "GET /api/v1/forms 200 {ms}ms"],
    "db.pool": ["connection acquired in {ms} ms (active={a}, idle={i})",
                "pool stats active={a} idle={i} waiting=0"],
    "auth": ["user enum_{u} logged in from device {d}",
             "token refreshed for user enum_{u}"],
    "scheduler": ["job export_daily started", "job export_daily finished in {s}s",
                  "job cleanup_tmp removed {n} files"],
    "storage.disk": ["free space on /data: {g} GB", "attachment {b}.jpg stored ({kb} KB)"],
}
WARNINGS = {
    "db.pool": "slow query on submissions ({ms} ms)",
    "api.http": "POST /api/v1/submissions 429 too many requests from device {d}",
    "storage.disk": "free space on /data below 10%: {g} GB",
    "sync.uploader": "upload of batch {b} slow ({ms} ms), network unstable",
}
TRACE_HEAD = "failed to process batch {b}: java.lang.IllegalStateException: submission {n} has no form version"
TRACE = [
    "\tat org.fieldsync.ingest.SubmissionParser.parse(SubmissionParser.java:212)",
    "\tat org.fieldsync.ingest.BatchWorker.process(BatchWorker.java:88)",
    "\tat org.fieldsync.ingest.BatchWorker.run(BatchWorker.java:61)",
    "\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "\tat java.base/java.lang.Thread.run(Thread.java:833)",
    "Caused by: java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"version\" is null",
    "\tat org.fieldsync.ingest.FormRegistry.lookup(FormRegistry.java:47)",
    "\t... 4 more",
]


def make_log(path: Path, n_lines: int = 3200) -> None:
    rng = random.Random(SEED + 1)
    t = dt.datetime(2024, 3, 5, 6, 0, 0)
    lines: list[str] = []
    burst_start, burst_len = int(n_lines * 0.62), 140  # database outage: a burst of errors

    def fill(template: str) -> str:
        return template.format(b=rng.randint(1000, 9999), n=rng.randint(1, 60), ms=rng.randint(3, 900),
                               r=rng.randint(1, 5), f=rng.choice(["wash_hh", "nutrition", "shelter"]),
                               a=rng.randint(1, 12), i=rng.randint(0, 8), u=rng.choice(["amal", "pierre", "lucia", "omar"]),
                               d=f"collect:{rng.getrandbits(40):010x}", s=rng.randint(5, 300),
                               g=rng.randint(3, 120), kb=rng.randint(40, 900))

    def emit(level: str, comp: str, msg: str) -> None:
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} {level} {comp}: {msg}")

    i = 0
    while len(lines) < n_lines:
        t += dt.timedelta(milliseconds=rng.randint(50, 9000))
        if burst_start <= i < burst_start + burst_len:
            t -= dt.timedelta(milliseconds=rng.randint(0, 40))
            kind = rng.random()
            if kind < 0.55:
                emit("ERROR", "db.pool", f"could not acquire connection within 5000 ms (active=12, waiting={rng.randint(3, 40)})")
            elif kind < 0.85:
                emit("ERROR", "api.http", f"POST /api/v1/submissions 503 database unavailable ({rng.randint(5000, 5100)}ms)")
            else:
                emit("WARN", "sync.uploader", fill("upload retry {r}/5 for batch {b}"))
        elif i % 457 == 300:
            emit("ERROR", "sync.uploader", fill(TRACE_HEAD))
            lines.extend(TRACE)
        elif rng.random() < 0.06:
            comp = rng.choice(list(WARNINGS))
            emit("WARN", comp, fill(WARNINGS[comp]))
        elif rng.random() < 0.15:
            comp = rng.choice(list(COMPONENTS))
            emit("DEBUG", comp, fill(rng.choice(COMPONENTS[comp])))
        else:
            comp = rng.choice(list(COMPONENTS))
            emit("INFO", comp, fill(rng.choice(COMPONENTS[comp])))
        i += 1
    path.write_text("\n".join(lines[:n_lines]) + "\n", encoding="utf-8")


def main() -> None:
    make_survey(HERE / "kobo_water_survey.csv")
    make_log(HERE / "fieldsync_server.log")
    print("wrote", HERE / "kobo_water_survey.csv", "and", HERE / "fieldsync_server.log")


if __name__ == "__main__":
    main()
