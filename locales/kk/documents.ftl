# Кодтарды өмірі бойынша жылжытатын құжаттар (POST /v1/documents және
# жөнелтуге жауаптар) мен кодтың тарихы, қазақша.

error-document-signature-missing = Құжатқа ЭЦҚ қойылуы керек: сұрау денесінің бөлек CMS қолтаңбасын X-Signature тақырыбында (base64) жіберіңіз.
error-document-signer-mismatch = Құжатқа { $signer } сертификатымен қол қойылған, ал оны { $taxpayer_id } қатысушысы жіберіп отыр: құжатқа жіберушінің өзі қол қоюы керек.
error-document-in-progress = Құжат әлі тексерілуде ({ $status } мәртебесі): нәтижесін күтіңіз.
error-document-waits-acceptance = Құжат сатып алушының жауабын күтуде ({ $status } мәртебесі).
error-document-final = Құжат өңделіп қойған ({ $status } мәртебесі): оны өзгертуге болмайды.
error-document-accept-refused = Жөнелтуді қабылдау мүмкін емес: { $count } код сізге өте алмайды. Себептері құжатта көрсетілген; ештеңе өзгертілмеді.

field-kind-not-served = «{ $kind }» түріндегі құжаттар әзірге қабылданбайды.
field-too-many-codes = Бір құжатта код тым көп: { $max } кодтан аспауы керек.
field-unknown-withdrawal-reason = Айналымнан шығарудың «{ $value }» себебі анықтамалықта жоқ.
field-unknown-write-off-reason = Есептен шығарудың «{ $value }» себебі анықтамалықта жоқ.
field-price-required = Жөнелтуде әр кодтың бағасы көрсетіледі: «code» және «price» (теңгемен) өрістері бар объект.
field-price-negative = Баға теріс болмайды, жіберілгені: { $value }.
field-unknown-receiver = БСН/ЖСН { $value } қатысушысы тіркелмеген немесе мақұлданбаған.
field-receiver-is-sender = Тауарды өзіңізге жөнелтуге болмайды.

document-code-duplicate = Бұл код құжатта бұрын көрсетілген: № { $first } кодтың қайталануы.
document-code-not-a-unit = Бұл көліктік қаптаманың коды (SSCC): құжатта тауар данасының кодтары көрсетіледі.
document-code-not-found = Мұндай код Таңба жүйесінде жоқ.
document-code-not-owned = Код басқа қатысушыға тиесілі.
document-code-in-pending-shipment = Код сатып алушының жауабын күтіп тұрған { $document } жөнелтуіне кіреді.

field-not-an-sscc = Бұл көліктік қаптаманың SSCC коды емес (GS1 бақылау цифры бар 18 цифр), жіберілгені: { $value }.
document-code-not-a-package = Бұл тауар данасының коды: қаптаманы тарқатқанда қаптамалардың SSCC кодтары көрсетіледі.
document-code-in-package = Код { $package } қаптамасында тұр: құжатта қаптаманы тұтастай көрсетіңіз немесе алдымен оны тарқатыңыз.
document-package-not-found = Мұндай қаптама (SSCC) Таңба жүйесінде жоқ.
document-package-not-owned = Қаптама басқа қатысушыға тиесілі.
document-package-in-package = Қаптама { $package } қаптамасының ішінде тұр: алдымен сыртқы қаптаманы тарқатыңыз.
document-package-duplicate = Бұл SSCC бар қаптама құжатта екі рет көрсетілген.
document-package-exists = Бұл SSCC бар қаптама бұрыннан бар: жаңа SSCC алыңыз немесе алдымен оны тарқатыңыз.
document-aggregation-in-two-packages = Код екі қаптамаға түседі: { $package } және { $other }.
document-aggregation-cycle = Қаптама өзінің ішіне түсер еді: { $path }.
document-aggregation-mixed-statuses = Қаптамадағы кодтардың мәртебелері әртүрлі ({ $statuses }): қаптаманың барлық ішіндегісінің мәртебесі бір болуы керек.

# Құжат денесі: JSON немесе NDJSON (бірінші жол — «codes»-сыз құжат,
# әр келесі жол — бір код).
error-unsupported-media-type = Құжат application/json, application/x-ndjson (бірінші жол — «codes»-сыз құжат өрістері, одан әрі әр жолда бір код) немесе text/csv (өрістердің атаулары мен мәндері екі жолда, үшінші жолда кодтар бағандарының атаулары, одан әрі әр жолда бір код) түрінде қабылданады, ал жіберілген Content-Type: { $content_type }.
error-unsupported-charset = { $charset } кодтауы қолдау көрсетілмейді: JSON мен NDJSON UTF-8 түрінде, CSV UTF-8 немесе windows-1251 түрінде жіберіледі (Content-Type: text/csv; charset=windows-1251).
error-malformed-json-line = Дененің { $line }-жолы дұрыс JSON емес: { $detail }
error-malformed-csv = Дене осы пішіндегі CSV емес: { $detail }
error-malformed-csv-line = Дененің { $line }-жолы құжаттың CSV пішініне сай емес: { $detail }
field-not-streamable = «{ $kind }» түріндегі құжат тек JSON (application/json) немесе CSV (text/csv, әр жолда қаптама мен оның бір мүшесі) ретінде жіберіледі: оның кодтары жолдар бойынша емес, қаптамалар бойынша орналасқан.
field-too-many-errors = Қате тым көп: алғашқы { $max } қате көрсетілді, қалған кодтар тексерілмеді.
field-not-a-position = Тізімдегі орын — 0 немесе одан үлкен бүтін сан.
