"""A small multilingual survey export saved in the legacy encodings field data arrives in.

Each encoding gets the answers of the languages it can hold (the same questions and answers,
translated), written as CSV the way the tool of that platform would save them; used by
tests/unit/test_encoding_choice.py and bench/bench_encodings.py.
"""

from __future__ import annotations

from pathlib import Path

HEADER = "id,region,answer"

ANSWERS = {
    "fr": ["Le puits est trop éloigné, nous marchons deux heures chaque matin.",
           "L'eau a un goût étrange après la pluie ; les enfants tombent malades.",
           "Conférence téléphonique avec le comité : réparation de la pompe prévue en août.",
           "Très satisfaits du personnel de la clinique, accueil chaleureux.",
           "Le prix du seau a doublé depuis février, c'est trop cher pour nous.",
           "Pas d'électricité à l'école, les élèves étudient à la bougie.",
           "Hôpital fermé le dimanche ; il faut aller à la ville voisine.",
           "Nous voulons une deuxième pompe près du marché, s'il vous plaît."],
    "es": ["El pozo está muy lejos; caminamos dos horas cada mañana.",
           "Niños enfermos después de la lluvia, el agua sabe rara.",
           "¿Cuándo repararán la bomba? Nadie nos informó.",
           "El señor del comité dijo que habrá reunión el miércoles."],
    "de": ["Der Brunnen ist zu weit entfernt, wir laufen jeden Morgen zwei Stunden.",
           "Das Wasser schmeckt nach dem Regen seltsam; Kinder werden krank.",
           "Größere Behälter wären schön, die Straße ist im Frühling schlecht."],
    "pl": ["Studnia jest za daleko, codziennie rano idziemy dwie godziny.",
           "Woda ma dziwny smak po deszczu; dzieci chorują.",
           "Proszę o naprawę pompy, czekamy już od września.",
           "Personel przychodni jest bardzo życzliwy i pomocny.",
           "Cena wiadra wzrosła dwukrotnie od lutego, to za drogo.",
           "Brak prądu w szkole, uczniowie uczą się przy świecach.",
           "Źródło jest zanieczyszczone, potrzebujemy filtrów.",
           "Chcemy drugiej pompy koło targu, dziękujemy."],
    "cs": ["Studna je příliš daleko, každé ráno chodíme dvě hodiny.",
           "Voda má po dešti zvláštní chuť; děti onemocní.",
           "Žádáme o opravu čerpadla, čekáme už od září."],
    "ru": ["Колодец слишком далеко, каждое утро мы идём два часа.",
           "После дождя у воды странный вкус; дети болеют.",
           "Просим отремонтировать насос, ждём с сентября.",
           "Персонал клиники очень доброжелательный и внимательный.",
           "Цена ведра выросла вдвое с февраля, это слишком дорого.",
           "В школе нет электричества, ученики занимаются при свечах.",
           "Источник загрязнён, нам нужны фильтры.",
           "Хотим второй насос рядом с рынком, спасибо."],
    "el": ["Το πηγάδι είναι πολύ μακριά, περπατάμε δύο ώρες κάθε πρωί.",
           "Μετά τη βροχή το νερό έχει παράξενη γεύση· τα παιδιά αρρωσταίνουν.",
           "Ζητάμε επισκευή της αντλίας, περιμένουμε από τον Σεπτέμβριο.",
           "Το προσωπικό της κλινικής είναι πολύ φιλικό και εξυπηρετικό.",
           "Η τιμή του κουβά διπλασιάστηκε από τον Φεβρουάριο.",
           "Δεν υπάρχει ρεύμα στο σχολείο, οι μαθητές διαβάζουν με κεριά.",
           "Η πηγή είναι μολυσμένη, χρειαζόμαστε φίλτρα.",
           "Θέλουμε δεύτερη αντλία κοντά στην αγορά, ευχαριστούμε."],
    "ja": ["井戸が遠すぎて、毎朝二時間歩いています。",
           "雨の後、水の味がおかしいです。子どもたちが病気になります。",
           "ポンプの修理をお願いします。九月から待っています。",
           "診療所のスタッフはとても親切で丁寧です。",
           "バケツの値段が二月から二倍になり、高すぎます。",
           "学校に電気がなく、生徒はろうそくで勉強しています。",
           "水源が汚染されているので、フィルターが必要です。",
           "市場の近くに二台目のポンプがほしいです。ありがとうございます。"],
    "ko": ["우물이 너무 멀어서 매일 아침 두 시간을 걸어갑니다.",
           "비가 온 뒤에는 물맛이 이상하고 아이들이 아픕니다.",
           "펌프 수리를 요청합니다. 구월부터 기다리고 있습니다.",
           "진료소 직원들이 매우 친절하고 도움이 됩니다.",
           "양동이 가격이 이월부터 두 배로 올라 너무 비쌉니다.",
           "학교에 전기가 없어서 학생들이 촛불로 공부합니다.",
           "수원이 오염되어 필터가 필요합니다.",
           "시장 근처에 두 번째 펌프를 원합니다. 감사합니다."],
    "zh_hant": ["水井太遠了，我們每天早上要走兩個小時。",
                "下雨後水的味道很奇怪，孩子們都生病了。",
                "請修理水泵，我們從九月就開始等待。",
                "診所的工作人員非常友善而且樂於助人。",
                "水桶的價格從二月起漲了一倍，太貴了。",
                "學校沒有電，學生們點蠟燭讀書。",
                "水源受到污染，我們需要過濾器。",
                "希望在市場附近再裝一台水泵，謝謝。"],
    "zh_hans": ["水井太远了，我们每天早上要走两个小时。",
                "下雨后水的味道很奇怪，孩子们都生病了。",
                "请修理水泵，我们从九月就开始等待。",
                "诊所的工作人员非常友善而且乐于助人。",
                "水桶的价格从二月起涨了一倍，太贵了。",
                "学校没有电，学生们点蜡烛读书。",
                "水源受到污染，我们需要过滤器。",
                "希望在市场附近再装一台水泵，谢谢。"],
    "ar": ["البئر بعيدة جدا، نمشي ساعتين كل صباح.",
           "بعد المطر يصبح طعم الماء غريبا ويمرض الأطفال.",
           "نرجو إصلاح المضخة، ننتظر منذ سبتمبر.",
           "موظفو العيادة لطفاء جدا ومتعاونون."],
    "tr": ["Kuyu çok uzak, her sabah iki saat yürüyoruz.",
           "Yağmurdan sonra suyun tadı garip; çocuklar hastalanıyor.",
           "Pompanın tamir edilmesini istiyoruz, eylülden beri bekliyoruz."],
}

# encoding -> (languages, newline): the platform's usual line ending (classic Mac OS: CR)
CASES = {
    "cp1252": (["fr", "es", "de"], "\r\n"),
    "mac_roman": (["fr", "es", "de"], "\r"),
    "cp1250": (["pl", "cs"], "\r\n"),
    "cp1251": (["ru"], "\r\n"),
    "koi8_r": (["ru"], "\n"),
    "iso8859_7": (["el"], "\n"),
    "shift_jis": (["ja"], "\r\n"),
    "euc_kr": (["ko"], "\n"),
    "big5": (["zh_hant"], "\r\n"),
    "gb18030": (["zh_hans"], "\r\n"),
    "cp1256": (["ar"], "\r\n"),
    "cp1254": (["tr"], "\r\n"),
    "utf_16_le": (["fr", "ru", "el", "ja", "ko", "zh_hans", "ar"], "\r\n"),
    "utf_16_be": (["fr", "ru", "el", "ja", "ko", "zh_hans", "ar"], "\n"),
}


def csv_text(langs: list[str], newline: str) -> str:
    rows = [HEADER]
    i = 1
    for lang in langs:
        for a in ANSWERS[lang]:
            text = f'"{a}"' if ("," in a or ";" in a or "，" in a) else a
            rows.append(f"{i},{lang},{text}")
            i += 1
    return newline.join(rows) + newline


def build(folder: Path) -> dict[str, tuple[Path, str]]:
    """Write one CSV per encoding (no BOM); returns encoding -> (path, the expected text)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for enc, (langs, nl) in CASES.items():
        text = csv_text(langs, nl)
        p = folder / f"answers_{enc}.csv"
        p.write_bytes(text.encode(enc))
        out[enc] = (p, text)
    return out
