"""The report's own words in each language it speaks, and the writing direction of each.

Why data, not code: a translator can add a language by adding one dict, and a test can
check that every language has every word.
"""

from __future__ import annotations

import re

from fieldkit.errors import UsageError

RTL = {"ar"}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "report": "fieldkit report", "generated": "Generated", "contents": "Contents",
        "inputs": "Inputs", "rows": "rows", "kind": "kind",
        "themes": "Themes", "codes": "Codes", "checks": "Data checks", "logs": "Logs",
        "survey": "Submissions", "dupes": "Duplicates", "table": "Details",
        "share": "share", "count": "count", "answers": "answers", "examples": "examples",
        "theme": "theme", "code": "code", "group": "group", "other": "other",
        "share_overall": "Share of each {what}", "share_by": "Share of each {what} by {by}",
        "confidence": "Confidence of the model's codes", "mean_score": "mean confidence",
        "needs_review": "needs review", "who_coded": "Who coded the answers, and how many need review",
        "human": "coded by people", "model": "coded by the model",
        "confidence_axis": "confidence (0-1)",
        "findings_by_check": "Findings per check", "findings_by_enum": "Findings per enumerator",
        "findings_by_column": "Questions with the most findings",
        "check": "check", "severity": "severity", "findings": "findings",
        "submissions": "submissions", "enumerator": "enumerator", "question": "question",
        "label": "label", "lines_by_level": "Lines per level over time ({bucket} buckets)",
        "error_timelines": "Error templates over time ({bucket} buckets)",
        "new_templates": "Templates new against the baseline ({n})",
        "no_new": "No template is new against the baseline.", "template": "template",
        "level": "level", "lines": "lines", "first_seen": "first seen", "last_seen": "last seen",
        "errors": "errors", "time": "time",
        "per_day": "Submissions per day", "per_enum": "Submissions per enumerator", "day": "day",
        "dup_groups": "Largest groups of duplicate answers", "dup_group": "group",
        "size": "size", "dup_summary": "{rows} answers fall in {groups} groups of duplicates.",
        "provenance": "Provenance", "source": "source", "sha256": "sha256", "format": "format",
        "steps": "steps", "operation": "operation", "parameters": "parameters",
        "model_id": "model", "model_sha": "model sha256", "started": "started",
        "seconds": "seconds", "file": "file", "version": "fieldkit version",
        "created": "created", "showing": "showing {n} of {total}", "no_data": "nothing to show",
        "summary_rows": "{rows} rows from {file}",
    },
    "fr": {
        "report": "Rapport fieldkit", "generated": "Créé le", "contents": "Sommaire",
        "inputs": "Entrées", "rows": "lignes", "kind": "type",
        "themes": "Thèmes", "codes": "Codes", "checks": "Contrôles des données", "logs": "Journaux",
        "survey": "Soumissions", "dupes": "Doublons", "table": "Détails",
        "share": "part", "count": "nombre", "answers": "réponses", "examples": "exemples",
        "theme": "thème", "code": "code", "group": "groupe", "other": "autre",
        "share_overall": "Part de chaque {what}", "share_by": "Part de chaque {what} par {by}",
        "confidence": "Confiance des codes du modèle", "mean_score": "confiance moyenne",
        "needs_review": "à revoir", "who_coded": "Qui a codé les réponses, et combien sont à revoir",
        "human": "codées à la main", "model": "codées par le modèle",
        "confidence_axis": "confiance (0-1)",
        "findings_by_check": "Constats par contrôle", "findings_by_enum": "Constats par enquêteur",
        "findings_by_column": "Questions avec le plus de constats",
        "check": "contrôle", "severity": "gravité", "findings": "constats",
        "submissions": "soumissions", "enumerator": "enquêteur", "question": "question",
        "label": "libellé", "lines_by_level": "Lignes par niveau dans le temps (pas de {bucket})",
        "error_timelines": "Modèles d'erreur dans le temps (pas de {bucket})",
        "new_templates": "Modèles nouveaux par rapport à la référence ({n})",
        "no_new": "Aucun modèle n'est nouveau par rapport à la référence.", "template": "modèle",
        "level": "niveau", "lines": "lignes", "first_seen": "première fois",
        "last_seen": "dernière fois", "errors": "erreurs", "time": "temps",
        "per_day": "Soumissions par jour", "per_enum": "Soumissions par enquêteur", "day": "jour",
        "dup_groups": "Plus grands groupes de réponses en double", "dup_group": "groupe",
        "size": "taille", "dup_summary": "{rows} réponses forment {groups} groupes de doublons.",
        "provenance": "Provenance", "source": "source", "sha256": "sha256", "format": "format",
        "steps": "étapes", "operation": "opération", "parameters": "paramètres",
        "model_id": "modèle", "model_sha": "sha256 du modèle", "started": "début",
        "seconds": "secondes", "file": "fichier", "version": "version de fieldkit",
        "created": "créé", "showing": "{n} sur {total} affichés", "no_data": "rien à montrer",
        "summary_rows": "{rows} lignes de {file}",
    },
    "ar": {
        "report": "تقرير fieldkit", "generated": "أُنشئ في", "contents": "المحتويات",
        "inputs": "المدخلات", "rows": "صفوف", "kind": "النوع",
        "themes": "المواضيع", "codes": "الرموز", "checks": "فحوص البيانات", "logs": "السجلات",
        "survey": "الاستمارات المرسلة", "dupes": "التكرارات", "table": "التفاصيل",
        "share": "النسبة", "count": "العدد", "answers": "إجابات", "examples": "أمثلة",
        "theme": "موضوع", "code": "رمز", "group": "مجموعة", "other": "أخرى",
        "share_overall": "نسبة كل {what}", "share_by": "نسبة كل {what} حسب {by}",
        "confidence": "ثقة النموذج في الرموز", "mean_score": "متوسط الثقة",
        "needs_review": "تحتاج مراجعة", "who_coded": "من رمّز الإجابات، وكم منها تحتاج مراجعة",
        "human": "رمّزها أشخاص", "model": "رمّزها النموذج",
        "confidence_axis": "الثقة (0-1)",
        "findings_by_check": "الملاحظات حسب الفحص", "findings_by_enum": "الملاحظات حسب الباحث",
        "findings_by_column": "الأسئلة الأكثر ملاحظات",
        "check": "الفحص", "severity": "الخطورة", "findings": "الملاحظات",
        "submissions": "الاستمارات", "enumerator": "الباحث", "question": "السؤال",
        "label": "التسمية", "lines_by_level": "الأسطر حسب المستوى عبر الزمن (فترات {bucket})",
        "error_timelines": "قوالب الأخطاء عبر الزمن (فترات {bucket})",
        "new_templates": "قوالب جديدة مقارنة بالمرجع ({n})",
        "no_new": "لا يوجد قالب جديد مقارنة بالمرجع.", "template": "القالب",
        "level": "المستوى", "lines": "الأسطر", "first_seen": "أول ظهور", "last_seen": "آخر ظهور",
        "errors": "الأخطاء", "time": "الوقت",
        "per_day": "الاستمارات حسب اليوم", "per_enum": "الاستمارات حسب الباحث", "day": "اليوم",
        "dup_groups": "أكبر مجموعات الإجابات المكررة", "dup_group": "المجموعة",
        "size": "الحجم", "dup_summary": "{rows} إجابة في {groups} مجموعة مكررة.",
        "provenance": "المصدر والخطوات", "source": "المصدر", "sha256": "sha256", "format": "الصيغة",
        "steps": "الخطوات", "operation": "العملية", "parameters": "المعاملات",
        "model_id": "النموذج", "model_sha": "sha256 للنموذج", "started": "البداية",
        "seconds": "ثوانٍ", "file": "الملف", "version": "إصدار fieldkit",
        "created": "أُنشئ", "showing": "عرض {n} من {total}", "no_data": "لا شيء لعرضه",
        "summary_rows": "{rows} صفاً من {file}",
    },
}


class Words:
    """The words of one language: `w("share_by", what=..., by=...)`."""

    def __init__(self, lang: str | None):
        code = (lang or "en").strip().lower()
        m = re.search(r"\((\w+)\)\s*$", code)  # an XLSForm language name: "Arabic (ar)"
        code = m.group(1) if m else code
        if code not in WORDS:
            raise UsageError(f"the report does not speak {lang!r}",
                             "use --lang " + " or ".join(sorted(WORDS)))
        self.lang = code
        self.rtl = code in RTL

    @property
    def direction(self) -> str:
        return "rtl" if self.rtl else "ltr"

    def __call__(self, key: str, **values: object) -> str:
        text = WORDS[self.lang].get(key) or WORDS["en"][key]
        return text.format(**values) if values else text
