# ЭЦҚ арқылы кіру, қатысушыларды тіркеу және өрістерді тексеру хабарлары (қазақша).
# Кілттер: error- және API қатесінің машиналық коды; field- және өріс қатесінің коды.

## ЭЦҚ (электрондық цифрлық қолтаңба) тексеру

error-eds-malformed = Қолтаңба оқылмады: бір қол қоюшысы бар CMS (PKCS#7) қолтаңбасы base64 түрінде күтілген еді.
error-eds-bad-signature = Қолтаңба жарамсыз: ол берілген деректерге немесе сертификатқа сәйкес келмейді.
error-eds-untrusted = Сертификатты сенімді куәландырушы орталық бермеген немесе ол жалған.
error-eds-expired = Қол қойылған сәтте сертификаттың мерзімі өтіп кеткен.
error-eds-not-yet-valid = Қол қойылған сәтте сертификат әлі күшіне енбеген.
error-eds-revoked = Сертификатты куәландырушы орталық кері қайтарып алған.
error-eds-revocation-unknown = Сертификаттың кері қайтарылмағанын тексеру мүмкін емес: оны берген орталықтың кері қайтарылған сертификаттар тізімі жоқ.
error-eds-bad-signing-time = Қолтаңбадағы қол қою уақыты дұрыс емес.
error-eds-no-taxpayer-id = Сертификатта жарамды ЖСН немесе БСН жоқ.

## Кіру

error-auth-challenge-unknown = Кіруге арналған сұрау белгісіз. Жаңа сұрау алып, соған қол қойыңыз.
error-auth-challenge-expired = Кіруге арналған сұраудың мерзімі өтті. Жаңа сұрау алып, соған қол қойыңыз.
error-auth-challenge-used = Бұл сұрау бұрын пайдаланылған. Жаңа сұрау алып, соған қол қойыңыз.
error-auth-not-registered = Бұл сертификаттың иесі жүйеде тіркелмеген.
error-participant-not-approved = Қатысушы әлі бекітілмеген немесе оның өтінімі қабылданбаған.

## Қатысушыларды тіркеу

error-validation-failed = Сұрауда қате бар ({ $count }): әрбір өрістің қатесі төменде көрсетілген.
error-participant-exists = { $taxpayer_id } нөмірлі қатысушы бұрын тіркелген.
error-registration-signer-mismatch = Өтінімге { $taxpayer_id } нөмірінің иесі қол қоюы керек, ал сертификатта { $signer } көрсетілген.
error-participant-already-decided = Өтінім бойынша шешім бұрын қабылданған (мәртебесі: { $status }).

## Өрістер

field-unknown-field = Мұндай өріс жоқ.
field-required = Өрісті толтыру міндетті.
field-not-text = Мәтін болуы керек.
field-not-list = Тізім болуы керек.
field-not-object = Нысан (JSON object) болуы керек.
field-too-long = Тым ұзын: ең көбі { $max } таңба.
field-control-characters = Басқару таңбалары болмауы керек.
field-taxpayer-id-format = БСН немесе ЖСН дәл 12 цифрдан тұруы керек.
field-taxpayer-id-control-digit = Бақылау цифры қате: { $expected } болуы керек.
field-taxpayer-id-never-issued = Мұндай нөмір берілмейді: бақылау цифрын есептеу мүмкін емес.
field-iin-birth-date = ЖСН-нің алғашқы алты цифры нақты туған күн емес.
field-iin-century = ЖСН-нің жетінші цифры 0-ден 6-ға дейін болуы керек.
field-bin-month = БСН-нің үшінші және төртінші цифрлары 01-ден 12-ге дейінгі ай болуы керек.
field-bin-entity-type = БСН-нің бесінші цифры 4, 5 немесе 6 болуы керек.
field-unknown-role = «{ $role }» — қатысушының рөлі емес. Мүмкін рөлдер: manufacturer, importer, wholesaler, retailer.
field-duplicate-role = «{ $role }» рөлі қайталанады.
field-contacts-required = Электрондық пошта немесе телефон нөмірін көрсетіңіз.
field-email = Электрондық пошта мекенжайы дұрыс емес.
field-phone = Телефон нөмірі дұрыс емес: халықаралық пішімде жазыңыз, мысалы +7 701 234 56 78.
field-base64 = Мәтін base64 түрінде болуы керек.
field-not-json-object = JSON нысаны (object) болуы керек.
field-unknown-status = «{ $status }» мәртебесі белгісіз. Мүмкін мәндер: PENDING, APPROVED, REFUSED.
field-out-of-range = Мәні { $min } мен { $max } аралығындағы бүтін сан болуы керек.
